"""`baton demo`: a simulated company (market, sales team, both teams' approvers) driving Baton."""
