"""Compute: allocations ledger, bookings, queue, admission policy, launchers, metering, simulator."""
