"""The filesystem manager: file work, done inside the user's own agent."""
