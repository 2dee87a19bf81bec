"""Many sessions at once through the libraries, as the pages drive them."""
