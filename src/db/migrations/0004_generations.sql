CREATE TABLE `generations` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
