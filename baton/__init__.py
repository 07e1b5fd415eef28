"""The application: the `baton` command, `baton up`, the embedded infrastructure, the demo."""
