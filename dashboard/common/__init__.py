"""Building blocks of every area: the console look (tables, badges, refusals), parameter parsing,
and figures as plain dicts. Pure: data in, components out, no database."""
