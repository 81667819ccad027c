"""Jobs: the queue, the states a job goes through, and the reconcile loop that admits and runs them."""
