"""State changes of what no app of ours owns: the people who sign in."""
