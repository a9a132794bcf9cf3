"""The demo: its catalogue, seeding, and a generator of realistic history."""
