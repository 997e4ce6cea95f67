"""Signing in: staff must pass a second factor, staff sessions end when idle or old, failed
sign-ins lock out per address before per account, and every step is in the security log."""
