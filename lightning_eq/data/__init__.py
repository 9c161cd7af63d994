"""SocialEQ records, the unit scale and the evaluation protocols."""
