import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { PresenceModule } from '../presence/presence.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { ChatGateway } from './chat.gateway.js';
import { ConnectionRegistry } from './connection.registry.js';
import { MessagesController } from './messages.controller.js';
import { RestRateGuard } from './rest-rate.guard.js';
import { RoomsController } from './rooms.controller.js';
import { WsErrorFilter } from './ws-error.filter.js';

@Module({
  imports: [AuthModule, RoomsModule, PresenceModule, MessagesModule],
  controllers: [RoomsController, MessagesController],
  providers: [ChatGateway, ConnectionRegistry, WsErrorFilter, RestRateGuard],
  exports: [ConnectionRegistry],
})
export class ChatModule {}
