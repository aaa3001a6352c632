CREATE TABLE `launch_template_versions` (
	`template_id` text NOT NULL,
	`version` integer NOT NULL,
	`description` text,
	`data` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`client_token` text,
	PRIMARY KEY(`template_id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `launch_templates` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`default_version` integer NOT NULL,
	`latest_version` integer NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	`client_token` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `launch_templates_name` ON `launch_templates` (`account_id`,`name`);