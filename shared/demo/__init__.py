"""Demo data: the county propaganda department's inspection notice, offices and rules."""
