"""Access: accounts, share links, the page registry and what a donor may see."""
