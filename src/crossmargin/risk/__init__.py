"""Risk lab: stress tests, Monte Carlo liquidation probability, volatility forecasts, safe leverage, PM."""
