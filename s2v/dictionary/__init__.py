"""Key-pose dictionary (section 3.3): the word -> pose store and insertion into pose sequences."""
