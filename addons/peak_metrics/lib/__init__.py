# Pure Python (no ORM): configuration, access control, route groups, metric
# objects and exposition. Tested without a database.
