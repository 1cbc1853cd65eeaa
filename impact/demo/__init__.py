"""Demo data: realistic field workbooks for three organizations, and seeding the store with them."""
