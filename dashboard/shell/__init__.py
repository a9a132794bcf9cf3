"""What every page shares: the navbar, the notification inbox, live refresh and the account page."""
