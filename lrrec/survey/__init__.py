"""The survey's section 4, reproduced (`lrrec bench survey`): its experiments (`survey`) and report (`report`)."""
