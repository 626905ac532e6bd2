"""The gRPC boundary: servicers, interceptors, and the per-kind CRUD behind them."""
