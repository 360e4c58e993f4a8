"""Faithful HTTP simulators of every vendor API, with a control API."""
