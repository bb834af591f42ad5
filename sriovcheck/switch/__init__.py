"""Switch side: the session seam (client.py), netmiko over SSH, saved outputs, Junos commands."""
