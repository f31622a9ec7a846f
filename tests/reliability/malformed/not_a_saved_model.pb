this is not a SavedModel protocol buffer
