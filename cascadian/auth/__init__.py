"""Who is calling: the app's signed-in users, by their Supabase access tokens."""
