import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import multer from 'multer';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AuthModule } from '../auth/auth.module.js';
import { BusModule } from '../bus/bus.module.js';
import { SETTINGS, type Settings } from '../config/settings.js';
import { FilesModule } from '../files/files.module.js';
import { InvitationsModule } from '../invitations/invitations.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { UsersModule } from '../users/users.module.js';
import { Cursors } from './paging.js';
import { ChatGateway } from './chat.gateway.js';
import { ConnectionRegistry } from './connection.registry.js';
import { FrameMetrics } from './frame-metrics.js';
import { InvitationsController } from './invitations.controller.js';
import { JoinsService } from './joins.service.js';
import { MessagesController } from './messages.controller.js';
import { RestRateGuard } from './rest-rate.guard.js';
import { RoomEventsListener } from './room-events.listener.js';
import { RoomFanout } from './room-fanout.js';
import { RoomsController } from './rooms.controller.js';
import { RememberProfileInterceptor } from './profile-claims.js';
import { UsersController } from './users.controller.js';
import { UserEventsListener } from './user-events.listener.js';
import { SearchController } from './search.controller.js';
import { RoomMemberGuard, UploadsController } from './uploads.controller.js';
import { WsErrorFilter } from './ws-error.filter.js';
import { WsJwtGuard } from './ws-jwt.guard.js';

/**
 * Uploads stream to disk under `UPLOAD_DIR/.incoming` (never held in memory)
 * with server-made names; multer stops a file past UPLOAD_MAX_FILE_BYTES or
 * a request past UPLOAD_MAX_FILES files as it streams, and removes what it wrote.
 */
const Uploads = MulterModule.registerAsync({
  inject: [SETTINGS],
  useFactory: (settings: Settings) => ({
    storage: multer.diskStorage({
      destination: incomingDir(settings.uploads.dir),
      filename: (_request, _file, callback) => callback(null, randomUUID()),
    }),
    limits: { fileSize: settings.uploads.maxFileBytes, files: settings.uploads.maxFiles, fields: 10, fieldSize: 1024 },
  }),
});

/** `UPLOAD_DIR/.incoming`, made if missing; a directory that cannot be used stops the start, naming the setting. */
function incomingDir(dir: string): string {
  const incoming = join(dir, '.incoming');
  try {
    mkdirSync(incoming, { recursive: true });
  } catch (error) {
    throw new Error(`UPLOAD_DIR=${JSON.stringify(dir)} cannot be used: ${(error as Error).message}`, { cause: error });
  }
  return incoming;
}

/** The socket edge and the REST controllers: everything that speaks to clients. */
@Module({
  imports: [AuthModule, BusModule, RoomsModule, PresenceModule, MessagesModule, UsersModule, InvitationsModule, FilesModule, Uploads],
  controllers: [RoomsController, MessagesController, UsersController, SearchController, InvitationsController, UploadsController],
  providers: [
    ChatGateway,
    ConnectionRegistry,
    FrameMetrics,
    WsJwtGuard,
    WsErrorFilter,
    RestRateGuard,
    RoomMemberGuard,
    RoomFanout,
    JoinsService,
    RoomEventsListener,
    UserEventsListener,
    RememberProfileInterceptor,
    Cursors,
  ],
})
export class ChatModule {}
