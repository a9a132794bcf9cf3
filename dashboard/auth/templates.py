"""The sign-in page: plain HTML (autoescaped Jinja), styled by the locally served Bootstrap."""

from __future__ import annotations

LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Sign in · Northstar</title>
  <link rel="icon" href="/_favicon.ico">
  <link rel="stylesheet" href="/vendor/bootstrap/css/bootstrap.min.css">
  <link rel="stylesheet" href="/assets/northstar.css">
</head>
<body class="bg-body-tertiary">
  <main class="container py-5"><div class="row justify-content-center">
   <div class="col-sm-10 col-md-6 col-lg-4">
    <h1 class="h3 mb-4">Northstar</h1>
    {% if error %}
    <div class="alert alert-danger" role="alert" id="login-error">{{ error }}</div>
    {% endif %}
    <form method="post" action="/login" class="card card-body shadow-sm">
      <input type="hidden" name="next" value="{{ next_path }}">
      <div class="mb-3">
        <label for="email" class="form-label">E-mail address</label>
        <input type="email" class="form-control" id="email" name="email" required
               autocomplete="username" autofocus maxlength="254">
      </div>
      <div class="mb-3">
        <label for="password" class="form-label">Password</label>
        <input type="password" class="form-control" id="password" name="password" required
               autocomplete="current-password">
      </div>
      <button type="submit" class="btn btn-primary w-100">Sign in</button>
    </form>
   </div>
  </div></main>
</body>
</html>
"""
