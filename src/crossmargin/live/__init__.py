"""Live accounts: readers (ccxt, paper venue), the monitor loop and its alerts."""
