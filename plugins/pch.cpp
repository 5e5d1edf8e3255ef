// Anchor source for the shared plugin precompiled header.
