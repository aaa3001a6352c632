ALTER TABLE `volumes` ADD `host_id` text;--> statement-breakpoint
ALTER TABLE `volumes` ADD `move_to` text;--> statement-breakpoint
ALTER TABLE `volumes` ADD `move_at` integer;--> statement-breakpoint
ALTER TABLE `volumes` ADD `move_source` text;