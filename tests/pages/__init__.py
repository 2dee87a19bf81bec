"""AppTest of every page and the app shell."""
