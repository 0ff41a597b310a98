"""Plain service functions: plain values and a clock in, plain values out."""
