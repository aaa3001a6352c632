CREATE TABLE `function_packages` (
	`sha256` text PRIMARY KEY NOT NULL,
	`zip` blob NOT NULL,
	`size` integer NOT NULL,
	`created_at` integer NOT NULL
);
