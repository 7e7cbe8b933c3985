"""The app stage: the project and its dependencies installed for the runtime, encoded as the app layer."""
