"""The reference blog API perflab serves, seeds and load-tests out of the box."""
