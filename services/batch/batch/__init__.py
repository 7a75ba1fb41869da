"""batch: jobs that classify thousands of images (archives, URL lists, the frame archive)."""
