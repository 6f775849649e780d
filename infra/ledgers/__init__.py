"""Ledgers kept in the event store itself: the privacy budget and the partner releases."""
