CREATE TABLE `events` (
	`seq` integer NOT NULL,
	`time` integer NOT NULL,
	`account_id` text NOT NULL,
	`instance_id` text NOT NULL,
	`kind` text NOT NULL,
	`code` text NOT NULL,
	`previous` text,
	`message` text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `events_seq` ON `events` (`seq`);--> statement-breakpoint
CREATE INDEX `events_instance` ON `events` (`instance_id`,`seq`);--> statement-breakpoint
CREATE INDEX `events_time` ON `events` (`time`);