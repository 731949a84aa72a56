"""Loaded by pytest before Django (`-p config.testenv` in pyproject.toml): the test suite's
environment defaults. Variables already set (DATABASE_URL, REDIS_URL, CI) still win."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("WHATSAPP_EMULATOR", "true")
os.environ.setdefault("HUEY_IMMEDIATE", "true")
# No PostgreSQL pool in the test process: the connections its async tests open in
# passing threads would stay in the pool, and Django could not drop the test database.
os.environ.setdefault("DATABASE_POOL_SIZE", "0")
