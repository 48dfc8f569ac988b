"""Model lifecycle: versions and aliases, retrain policies, drift detectors, time travel."""
