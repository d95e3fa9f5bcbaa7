"""`judge arena`: live anonymous battles on the voters' own prompts, streamed side by side, rated live.

Kept free of imports so that reading a config (which knows the `arena:` section) does not load the web stack;
the server is judge.arena.server, the battle logic judge.arena.battles.
"""
