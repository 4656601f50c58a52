"""One module per vector file of `spec/vectors/`, each with the check of that file."""
