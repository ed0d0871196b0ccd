"""Notebook views with text fallbacks: every view prints readable text when widgets are not
available (papermill, nbval, a terminal), so stored notebook outputs stay stable."""
