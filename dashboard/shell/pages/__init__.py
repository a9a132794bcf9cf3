"""The account page (who you are, what you may do, your access tokens)."""
