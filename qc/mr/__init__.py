"""MR side: Philips PIQT reports and the MR image analysers."""
