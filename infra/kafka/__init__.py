"""Kafka: the consumer that appends events to the store, and the producer services use."""
