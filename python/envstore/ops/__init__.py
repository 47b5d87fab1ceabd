"""What the commands do, each given a StoreSession: realize, gc, verify/repair, profiles, shims."""
