"""The contract: the tables field teams send, their columns, and the aliases (English and Khmer) the loaders accept."""
