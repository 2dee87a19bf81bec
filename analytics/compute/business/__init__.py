"""The business case: unit economics, a monthly P&L with its break-even, and which input moves it most."""
