"""The voice: capture and voice activity, recognition, turn-taking and speech."""
