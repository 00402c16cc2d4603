"""CyberTipline reports: a reviewer's confirmation becomes a report NCMEC accepts,
sent step by step so that a crash resumes it, and its items preserved as US law
requires."""
