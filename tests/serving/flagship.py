"""Facts about the flagship model's input (the book's 14 binary lag
features), needed where fixtures cannot reach: at import time, e.g. by the
hypothesis strategies of the fuzz tests."""

FEATURES = [f"lag_{i}" for i in range(14)]
BOOK_ROW = [1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0]
