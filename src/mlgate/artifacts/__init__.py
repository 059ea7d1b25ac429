"""What mlgate writes and reads back: the model card and the training data's profile beside a
model, the request log, the release and deployment records. One module per record, each the one
schema of its file; below deploy, serve and monitor, which all read them."""
